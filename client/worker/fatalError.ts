/** An error after which retrying cannot help: shown on the page, the worker's loop stops. */
export class FatalError extends Error {
  override name = 'FatalError';
}
