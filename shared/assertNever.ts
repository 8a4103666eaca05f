/** Exhaustiveness check for `switch` over tagged unions: a new case that is not handled fails to compile. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}
