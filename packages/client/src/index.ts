export {};
export * from "./wire/index.js";
