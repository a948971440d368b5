/** Where the registry reports what it did (sweep reports) and what went wrong (bad files). */
export interface RegistryLogger {
  info(message: string, data?: Record<string, unknown>): void;
  warn(message: string, data?: Record<string, unknown>): void;
}

/** Warnings (with their data) go to `console.warn`; report summaries (one line) to `console.info`. */
export const consoleLogger: RegistryLogger = Object.freeze({
  info: (message: string) => console.info(message),
  warn: (message: string, data?: Record<string, unknown>) =>
    data === undefined ? console.warn(message) : console.warn(message, data),
});
