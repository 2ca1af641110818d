// The one way tests start a browser: Debian's Chromium through playwright-core, headless, with the flags that keep it
// off the network (this machine's closed network refuses Chromium's background connections, many at a time).
import { chromium, type Browser } from 'playwright-core';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
