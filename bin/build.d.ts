/** Types of bin/build.js, which stays plain JavaScript so `npm install` can run it before anything is built. */
export const ENTRY: string;
export const PAGES: string;
export function isBuildCurrent(): Promise<boolean>;
export function build(): Promise<void>;
export function buildPages(): Promise<void>;
/** Builds what is stale (the CLI, the identity pages); the CLI entry's path. */
export function ensureBuilt(): Promise<string>;
