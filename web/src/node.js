// Entry point of the node build used by the tests: the crypto and the parsers.
export * from "./crypto.js";
export * as transcript from "./transcript.js";
