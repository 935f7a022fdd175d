-- PostgreSQL setup for Lore Cloud. Run as the postgres superuser:
--   sudo -u postgres psql -v password="'…'" -f postgres-setup.sql
CREATE ROLE lore LOGIN PASSWORD :password;
CREATE DATABASE lore OWNER lore ENCODING 'UTF8';
-- then: LORE_DATABASE_URL=postgresql://lore:…@127.0.0.1:5432/lore lore-server migrate
