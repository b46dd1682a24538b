import t from "tap";
import { VERSION } from "../src/index.js";
t.equal(VERSION, "0.1.0");
