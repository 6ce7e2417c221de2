/**
 * Bad inputs a bulk run over many repositories meets, each with the one error line it must
 * produce: the reported path, the line (0: the whole file) and the message. Every case lives
 * in its own directory of one tree, next to a healthy racy Dockerfile (`good/Dockerfile`).
 */
import { Entry } from "./cli";

export interface BadCase {
  name: string;
  files: Record<string, Entry>;
  /** Extra CLI paths besides `.` (explicit files, missing paths). */
  args?: string[];
  /** Path as reported, the 1-based line (0: none) and the message. */
  path: string;
  line: number;
  message: RegExp;
}

const df = (...lines: string[]) => lines.join("\n") + "\n";

export const BAD_CASES: BadCase[] = [
  {
    name: "empty file",
    files: { "empty/Dockerfile": "" },
    path: "empty/Dockerfile",
    line: 1,
    message: /the Dockerfile is empty/,
  },
  {
    name: "binary file",
    files: { "binary/Dockerfile": Buffer.from([0x46, 0x52, 0x0a, 0x7f, 0x45, 0x4c, 0x46, 0, 1]) },
    path: "binary/Dockerfile",
    line: 2,
    message: /binary file \(contains NUL bytes\)/,
  },
  {
    name: "invalid UTF-8",
    files: {
      "latin1/Dockerfile": Buffer.concat([
        Buffer.from("FROM alpine\nRUN echo caf"),
        Buffer.from([0xe9, 0x0a]),
      ]),
    },
    path: "latin1/Dockerfile",
    line: 2,
    message: /not valid UTF-8/,
  },
  {
    name: "only comments",
    files: { "comments/Dockerfile": "# syntax=docker/dockerfile:1\n# nothing else\n" },
    path: "comments/Dockerfile",
    line: 1,
    message: /no FROM instruction/,
  },
  {
    name: "no FROM",
    files: { "nofrom/Dockerfile": df("RUN echo hi") },
    path: "nofrom/Dockerfile",
    line: 1,
    message: /RUN is not allowed before the first FROM/,
  },
  {
    name: "unknown instruction",
    files: { "typo/Dockerfile": df("FROM alpine", "RUUN echo hi") },
    path: "typo/Dockerfile",
    line: 2,
    message: /unknown instruction: RUUN/,
  },
  {
    name: "unterminated heredoc at EOF",
    files: { "heredoc/Dockerfile": "FROM alpine\nRUN <<EOF\necho hi\n" },
    path: "heredoc/Dockerfile",
    line: 2,
    message: /unterminated heredoc/,
  },
  {
    name: "continuation at EOF inside a --mount value",
    files: { "conteof/Dockerfile": "FROM alpine\nRUN --mount=type=cache,\\" },
    path: "conteof/Dockerfile",
    line: 2,
    message: /invalid field '' must be a key=value pair/,
  },
  {
    name: "mount option error: sharing value",
    files: {
      "sharing/Dockerfile": df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/var/cache/apk,sharing=exclusive apk add git",
      ),
    },
    path: "sharing/Dockerfile",
    line: 2,
    message: /unsupported sharing value "exclusive"/,
  },
  {
    name: "mount option error: unknown key",
    files: { "mountkey/Dockerfile": df("FROM alpine", "RUN --mount=type=cache,tagret=/x true") },
    path: "mountkey/Dockerfile",
    line: 2,
    message: /unexpected key 'tagret'/,
  },
  {
    name: "mount option error: empty --mount=",
    files: { "mountempty/Dockerfile": df("FROM alpine", "RUN --mount= true") },
    path: "mountempty/Dockerfile",
    line: 2,
    message: /failed to parse csv mounts: EOF/,
  },
  {
    name: "out-of-range COPY --from=7",
    files: { "index/Dockerfile": df("FROM alpine AS a", "FROM alpine", "COPY --from=7 /a /b") },
    path: "index/Dockerfile",
    line: 3,
    message: /invalid stage index 7/,
  },
  {
    name: "forward reference (COPY --from a later stage)",
    files: {
      "forward/Dockerfile": df("FROM alpine AS a", "COPY --from=b /x /y", "FROM alpine AS b"),
    },
    path: "forward/Dockerfile",
    line: 2,
    message: /cannot copy from stage "b", it needs to be defined before current stage "a"/,
  },
  {
    name: "forward reference (RUN --mount from= a later stage)",
    files: {
      "mountfwd/Dockerfile": df(
        "FROM alpine AS a",
        "RUN --mount=type=cache,target=/c,from=b true",
        "FROM alpine AS b",
      ),
    },
    path: "mountfwd/Dockerfile",
    line: 2,
    message: /cannot mount from stage "b", stage needs to be defined before current command/,
  },
  {
    name: "1 MB line",
    files: {
      "longline/Dockerfile": df(
        "FROM alpine",
        "RUN --mount=type=cache,target=/var/cache/apk echo " + "x".repeat(1 << 20),
      ),
    },
    path: "longline/Dockerfile",
    line: 2,
    message: /greater than max allowed size of 65535/,
  },
  {
    name: "directory given where a file is expected",
    files: { "dirfile/Dockerfile/README": "not a Dockerfile\n" },
    args: ["dirfile/Dockerfile"],
    path: "dirfile/Dockerfile",
    line: 0,
    message: /is a directory, not a file/,
  },
  {
    name: "missing path",
    files: {},
    args: ["no/such/dir"],
    path: "no/such/dir",
    line: 0,
    message: /no such file or directory/,
  },
  {
    name: "FIFO given as a file",
    files: { "fifo/Dockerfile": { fifo: true } },
    args: ["fifo/Dockerfile"],
    path: "fifo/Dockerfile",
    line: 0,
    message: /not a regular file/,
  },
  {
    name: "symlink loop in a walked tree",
    files: { "loop/sub/Dockerfile": df("FROM alpine"), "loop/sub/again": { symlink: ".." } },
    path: "loop/sub/again",
    line: 0,
    message: /symlink loop/,
  },
  {
    name: "dangling symlink named Dockerfile",
    files: { "dangling/Dockerfile": { symlink: "../nowhere/Dockerfile" } },
    path: "dangling/Dockerfile",
    line: 0,
    message: /no such file or directory/,
  },
  {
    name: "compose file that is not valid YAML",
    files: { "badyaml/compose.yml": "services: [\n  api: {\n" },
    path: "badyaml/compose.yml",
    line: 3,
    message: /invalid YAML/,
  },
  {
    name: "compose file pointing to a missing Dockerfile",
    files: {
      "composemiss/compose.yml":
        "services:\n  api:\n    build:\n      context: .\n      dockerfile: api.Dockerfile\n",
    },
    path: "composemiss/compose.yml",
    line: 2,
    message: /service "api": Dockerfile not found/,
  },
  {
    name: "bake file that is not valid HCL",
    files: { "badhcl/docker-bake.hcl": 'target "x" {\n  dockerfile = \n' },
    path: "badhcl/docker-bake.hcl",
    line: 2,
    message: /invalid HCL/,
  },
  {
    name: "bake file pointing to a missing Dockerfile",
    files: {
      "bakemiss/docker-bake.hcl": 'target "default" {\n  dockerfile = "missing.Dockerfile"\n}\n',
    },
    path: "bakemiss/docker-bake.hcl",
    line: 1,
    message: /target "default": Dockerfile not found/,
  },
];
