"""lorectl command modules."""
