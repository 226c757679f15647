/** modelfleet's version: in V2 server metadata, and part of the native export cache's key. */
export const VERSION = '0.1.0';
