// The browser of every Playwright script here (e2e, legacy, bench): Debian's
// headless Chromium that scripts/setup.sh installs, without the background
// traffic and updates a fresh profile would start.
import { chromium } from "playwright-core";

export function launchChromium() {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
