// Helpers for the unit tests: the static/ tree and its files.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const STATIC = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "static");

/** Every file under static/, as served paths ("/js/app.js"). */
export function files(dir = STATIC) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name);
    return statSync(full).isDirectory() ? files(full) : [`/${relative(STATIC, full).split("\\").join("/")}`];
  });
}

/** A static file's text. */
export const read = (path) => readFileSync(join(STATIC, path), "utf8");

/** A module of static/js, imported as the browser would. */
export const load = (path) => import(new URL(`file://${join(STATIC, path)}`).href);
