/** A problem found in an input file, located by 1-based line. */
export interface Diagnostic {
  line: number;
  message: string;
  /** "error": BuildKit would reject the build or the file could not be analysed. */
  severity: "error" | "warning";
  /** Set when the problem is in another file than the one reported on (compose, bake). */
  file?: string;
}
