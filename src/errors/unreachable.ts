/**
 * Thrown by `switch` statements over discriminated unions that must be exhaustive: the
 * `never` parameter makes a missing case a type error, and the throw guards against data
 * that escaped the types at run time. Has no dependencies, so the pure policy layer can use it.
 */
export class UnreachableCaseError extends Error {
  constructor(value: never) {
    super(`unreachable case: ${JSON.stringify(value)}`);
  }
}
