/** Debian's Chromium; `npm test` installs it. */
export declare const CHROMIUM: string;
/** Launch flags for this closed network, with a fake microphone when asked. */
export declare function chromiumArgs(microphone?: 'fake' | 'fake-ask'): string[];
