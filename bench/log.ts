/** Where a phase writes its detail lines (stderr with --verbose, nowhere otherwise). */
export type Log = (line: string) => void;
