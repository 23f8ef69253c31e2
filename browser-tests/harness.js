// @ts-check
/**
 * @file What the browser tests drive: a real hub (the SDK tests' harness: `draftline
 * serve` on a free loopback port with a fresh database and Redis prefix) and headless
 * Chromium from Debian's package through playwright-core.
 */

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

// The hub, tokens and waiting helpers are the SDK tests' own: one harness for both.
export { startHub, client, waitFor } from "../client-sdk/test/hub.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SCREENSHOTS = resolve(root, "target/screenshots");

/**
 * Headless Chromium from Debian's package (never a downloaded build).
 * @param {string[]} [extraArgs] flags beyond the common ones
 */
export async function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      ...extraArgs,
    ],
  });
}

/**
 * Saves a screenshot of the page under `target/screenshots/NAME.png`.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: resolve(SCREENSHOTS, `${name}.png`), fullPage: true });
}
