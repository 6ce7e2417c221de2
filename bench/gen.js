"use strict";
/**
 * Deterministic inputs for the benchmark (issue 7): a tree of realistic multi-stage
 * Dockerfiles with some compose projects, and one very large Dockerfile. Everything comes
 * from a seeded PRNG, so the same seed writes byte-identical files on every machine.
 */
const fs = require("fs");
const path = require("path");

/** mulberry32: small, fast, good enough for generating test inputs. */
function makeRng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** Integer in [lo, hi]. */
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  };
}

const SERVICE_NAMES = [
  "api",
  "worker",
  "gateway",
  "billing",
  "auth",
  "search",
  "notifier",
  "scheduler",
  "ingest",
  "reports",
  "web",
  "admin",
];

const PACKAGES = [
  "ca-certificates",
  "curl",
  "git",
  "libpq-dev",
  "libssl-dev",
  "pkg-config",
  "protobuf-compiler",
  "build-essential",
  "cmake",
  "unzip",
  "jq",
  "tzdata",
];

/** Language toolchains: base images, where the project lives, and its cache RUN commands. */
const TOOLCHAINS = {
  cargo: {
    arg: ["RUST_VERSION", "1.82"],
    bases: ["rust:${RUST_VERSION}-bookworm", "rust:${RUST_VERSION}-slim-bookworm", "rust:1.81"],
    workdir: ["/app", "/src", "/usr/src/app"],
    manifest: "COPY Cargo.toml Cargo.lock ./",
    env: ["CARGO_TERM_COLOR=never", "CARGO_INCREMENTAL=0"],
    names: ["builder", "build", "chef", "planner", "compile"],
  },
  npm: {
    arg: ["NODE_VERSION", "20"],
    bases: ["node:${NODE_VERSION}-bookworm", "node:${NODE_VERSION}-alpine", "node:22-slim"],
    workdir: ["/app", "/usr/src/app", "/home/node/app"],
    manifest: "COPY package.json package-lock.json ./",
    env: ["NODE_ENV=production", "CI=1"],
    names: ["deps", "build", "assets", "frontend", "web-build"],
  },
  go: {
    arg: ["GO_VERSION", "1.23"],
    bases: ["golang:${GO_VERSION}-bookworm", "golang:${GO_VERSION}-alpine", "golang:1.22"],
    workdir: ["/src", "/go/src/app", "/workspace"],
    manifest: "COPY go.mod go.sum ./",
    env: ["GOFLAGS=-mod=mod", "CGO_ENABLED=0"],
    names: ["build", "gobuild", "tools", "modules", "compile"],
  },
  pip: {
    arg: ["PYTHON_VERSION", "3.12"],
    bases: ["python:${PYTHON_VERSION}-slim", "python:${PYTHON_VERSION}-bookworm", "python:3.11"],
    workdir: ["/app", "/srv", "/opt/app"],
    manifest: "COPY requirements.txt .",
    env: ["PIP_DISABLE_PIP_VERSION_CHECK=1", "PYTHONDONTWRITEBYTECODE=1"],
    names: ["wheels", "venv", "pydeps", "build", "test"],
  },
  maven: {
    arg: ["JAVA_VERSION", "21"],
    bases: ["maven:3.9-eclipse-temurin-${JAVA_VERSION}", "maven:3.9-eclipse-temurin-17"],
    workdir: ["/build", "/workspace", "/app"],
    manifest: "COPY pom.xml .",
    env: ["MAVEN_OPTS=-Xmx1g", "CI=1"],
    names: ["build", "jar", "package", "deps", "compile"],
  },
};
const TOOL_NAMES = Object.keys(TOOLCHAINS);

const RUNTIMES = [
  "debian:bookworm-slim",
  "gcr.io/distroless/cc-debian12",
  "gcr.io/distroless/static-debian12:nonroot",
  "alpine:3.20",
  "ubuntu:24.04",
  "eclipse-temurin:21-jre",
];

const COMMENTS = [
  "# Dependencies change less often than sources: keep them in their own layer.",
  "# Cache mounts survive between builds; they are not part of the image.",
  "# TODO: pin the base image by digest",
  "# see docs/build.md",
  "# build the release binary",
  "# install system packages",
];

/** One `--mount=type=cache,...` word with its options in a random but valid order. */
function mount(rng, target, opts = {}) {
  const parts = ["type=cache", `target=${target}`];
  if (opts.id) parts.push(`id=${opts.id}`);
  if (opts.sharing) parts.push(`sharing=${opts.sharing}`);
  if (rng.chance(0.25)) {
    // `type=cache` must come first only by convention; BuildKit accepts any order.
    const [head, ...tail] = parts;
    tail.reverse();
    return `--mount=${[head, ...tail].join(",")}`;
  }
  return `--mount=${parts.join(",")}`;
}

/** A RUN with cache mounts, over one or several physical lines. */
function cacheRun(rng, mounts, command) {
  const multiline = mounts.length > 1 || rng.chance(0.4);
  if (rng.chance(0.03)) {
    // heredoc body
    return [`RUN ${mounts.join(" ")} <<EOF`, "set -eux", ...command.split(" && "), "EOF"];
  }
  if (!multiline) return [`RUN ${mounts.join(" ")} ${command}`];
  const lines = [`RUN ${mounts[0]} \\`];
  for (const m of mounts.slice(1)) lines.push(`    ${m} \\`);
  const cmds = command.split(" && ");
  cmds.forEach((c, i) =>
    lines.push(`    ${i ? "&& " : ""}${c}${i < cmds.length - 1 ? " \\" : ""}`),
  );
  return lines;
}

/** Cache RUN steps per tool: `ctx` tells the stage's workdir and whether ARG SERVICE is set. */
function toolRun(rng, tool, ctx) {
  const locked = () => (rng.chance(0.3) ? "locked" : rng.chance(0.05) ? "private" : undefined);
  const svc = ctx.service ? "${SERVICE}" : rng.pick(SERVICE_NAMES);
  switch (tool) {
    case "apt": {
      const sharing = locked();
      const pkgs = [];
      for (let i = rng.int(2, 5); i > 0; i--) pkgs.push(rng.pick(PACKAGES));
      return cacheRun(
        rng,
        [
          mount(rng, "/var/cache/apt", { sharing }),
          mount(rng, "/var/lib/apt", { sharing, id: rng.chance(0.1) ? "apt-lists" : undefined }),
        ],
        `apt-get update && apt-get install -y --no-install-recommends ${[...new Set(pkgs)].join(" ")}`,
      );
    }
    case "cargo": {
      const ms = [mount(rng, "/usr/local/cargo/registry", { sharing: locked() })];
      if (rng.chance(0.4)) ms.push(mount(rng, "/usr/local/cargo/git"));
      const targetId =
        ctx.service && rng.chance(0.5) ? "target-${SERVICE}" : rng.chance(0.2) ? "target" : "";
      ms.push(mount(rng, `${ctx.workdir}/target`, { id: targetId || undefined }));
      return cacheRun(
        rng,
        ms,
        rng.chance(0.3)
          ? "cargo fetch --locked"
          : `cargo build --release --locked -p ${svc} && cp target/release/${svc} /usr/local/bin/app`,
      );
    }
    case "npm":
      if (rng.chance(0.2))
        return cacheRun(
          rng,
          [mount(rng, "/usr/local/share/.cache/yarn", { sharing: locked() })],
          "yarn install --frozen-lockfile",
        );
      return cacheRun(
        rng,
        [mount(rng, "/root/.npm", { id: rng.chance(0.15) ? "npm" : undefined })],
        rng.chance(0.5) ? "npm ci --prefer-offline --no-audit" : "npm ci && npm run build",
      );
    case "go": {
      const ms = [mount(rng, "/go/pkg/mod")];
      if (rng.chance(0.7)) ms.push(mount(rng, "/root/.cache/go-build"));
      return cacheRun(
        rng,
        ms,
        rng.chance(0.3)
          ? "go mod download"
          : `CGO_ENABLED=0 go build -trimpath -o /out/${svc} ./cmd/${svc}`,
      );
    }
    case "pip":
      return cacheRun(
        rng,
        [mount(rng, "/root/.cache/pip", { sharing: rng.chance(0.1) ? "locked" : undefined })],
        rng.chance(0.5)
          ? "pip install --prefix=/install -r requirements.txt"
          : "pip wheel --wheel-dir /wheels -r requirements.txt",
      );
    case "maven":
      return cacheRun(
        rng,
        [mount(rng, "/root/.m2", { id: rng.chance(0.3) ? "m2" : undefined, sharing: locked() })],
        rng.chance(0.4) ? "mvn -B -q dependency:go-offline" : "mvn -B -DskipTests package",
      );
  }
  throw new Error(`unknown tool ${tool}`);
}

/**
 * A realistic multi-stage Dockerfile: 2-8 stages (FROM chains and independent siblings),
 * COPY --from, WORKDIR/ENV/ARG, 1-6 cache RUNs. `service` adds `ARG SERVICE` to the
 * build stages (compose projects pass it as a build arg).
 * Returns the text and the stage names.
 */
function genDockerfile(rng, opts = {}) {
  const lines = [];
  if (rng.chance(0.7)) lines.push("# syntax=docker/dockerfile:1");
  if (rng.chance(0.5)) lines.push(rng.pick(COMMENTS));
  const nStages = rng.int(2, 8);
  const mainTool = rng.pick(TOOL_NAMES);
  const globalArgs = new Set();
  const stages = []; // { name, tool, workdir }
  const usedNames = new Set();
  const stageName = (tool) => {
    let n = rng.pick(TOOLCHAINS[tool].names);
    if (usedNames.has(n)) n = `${n}-${rng.pick(SERVICE_NAMES)}`;
    while (usedNames.has(n)) n = `${n}${usedNames.size}`;
    usedNames.add(n);
    return n;
  };
  // Spread 1-6 cache RUNs over the build stages (all but the last).
  let cacheRuns = rng.int(1, 6);
  const perStage = new Array(nStages).fill(0);
  while (cacheRuns-- > 0) perStage[rng.int(0, nStages - 2)]++;
  if (rng.chance(0.3)) perStage[nStages - 1]++; // runtime apt install

  const body = [];
  for (let i = 0; i < nStages; i++) {
    const final = i === nStages - 1;
    const tool = final ? "apt" : rng.chance(0.75) ? mainTool : rng.pick(TOOL_NAMES);
    const chain = !final && i > 0 && rng.chance(0.35);
    const tc = TOOLCHAINS[tool === "apt" ? mainTool : tool];
    let from;
    let workdir = rng.pick(tc.workdir);
    if (final) from = rng.pick(RUNTIMES);
    else if (chain) {
      const parent = stages[rng.int(0, stages.length - 1)];
      from = parent.name;
      workdir = parent.workdir;
    } else {
      from = rng.pick(tc.bases);
      if (from.includes("${")) globalArgs.add(tc.arg);
    }
    const name = final
      ? rng.chance(0.6)
        ? "runtime"
        : rng.chance(0.5)
          ? "final"
          : ""
      : stageName(tool === "apt" ? mainTool : tool);
    if (name) usedNames.add(name);
    const platform = !final && !chain && rng.chance(0.08) ? "--platform=$BUILDPLATFORM " : "";
    body.push("");
    if (rng.chance(0.3)) body.push(rng.pick(COMMENTS));
    body.push(`FROM ${platform}${from}${name ? ` AS ${name}` : ""}`);
    const ctx = { workdir, service: false };
    if (!chain || rng.chance(0.3)) body.push(`WORKDIR ${workdir}`);
    if (rng.chance(0.4)) body.push(`ENV ${rng.pick(final ? ["LANG=C.UTF-8", "TZ=UTC"] : tc.env)}`);
    if (!final && (opts.service || rng.chance(0.15))) {
      body.push(
        opts.service || rng.chance(0.5) ? "ARG SERVICE" : `ARG SERVICE=${rng.pick(SERVICE_NAMES)}`,
      );
      ctx.service = true;
    }
    if (!final && rng.chance(0.15)) body.push(`ARG VERSION=0.${rng.int(1, 40)}.${rng.int(0, 9)}`);
    // Copy outputs of an earlier stage into this one (a schedule edge).
    if (!final && stages.length && rng.chance(0.2)) {
      const src = rng.pick(stages);
      body.push(`COPY --from=${src.name} /out/ /usr/local/bin/`);
    }
    if (final) {
      for (let k = perStage[i]; k > 0; k--) {
        if (rng.chance(0.2)) body.push(rng.pick(COMMENTS));
        body.push(...toolRun(rng, "apt", ctx));
      }
      const builders = stages.filter(() => rng.chance(0.6));
      if (!builders.length && stages.length) builders.push(stages[stages.length - 1]);
      for (const b of builders)
        body.push(`COPY --from=${b.name} ${b.workdir}/dist/ /opt/app/${b.name}/`);
      if (rng.chance(0.5)) body.push(`EXPOSE ${rng.pick([80, 3000, 8080, 8443, 9000])}`);
      if (rng.chance(0.6)) body.push("USER 10001");
      body.push(
        `ENTRYPOINT ["/opt/app/${stages.length ? stages[stages.length - 1].name : "app"}/app"]`,
      );
      stages.push({ name: name || String(i), workdir, tool });
      break;
    }
    if (rng.chance(0.6)) body.push(tc.manifest);
    for (let k = perStage[i]; k > 0; k--) {
      if (rng.chance(0.2)) body.push(rng.pick(COMMENTS));
      if (rng.chance(0.15)) body.push("# buildrace-ignore");
      const t = rng.chance(0.25) ? "apt" : tool === "apt" ? mainTool : tool;
      body.push(...toolRun(rng, t, ctx));
      if (rng.chance(0.3)) body.push("COPY . .");
    }
    if (rng.chance(0.3)) body.push(`RUN mkdir -p /out && echo ${rng.int(1, 1e6)} > /out/build-id`);
    stages.push({ name, workdir, tool });
  }
  for (const [k, v] of globalArgs) lines.push(`ARG ${k}=${v}`);
  lines.push(...body);
  let text = lines.join("\n") + (rng.chance(0.97) ? "\n" : "");
  if (text.startsWith("\n")) text = text.slice(1);
  if (rng.chance(0.05)) text = text.replace(/\n/g, "\r\n");
  if (rng.chance(0.01)) text = "\uFEFF" + text;
  return { text, stages: stages.map((s) => s.name), final: stages[stages.length - 1].name };
}

function write(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

const DOCKERFILE_NAMES = [
  "Dockerfile",
  "Dockerfile",
  "Dockerfile",
  "Dockerfile.prod",
  "build.Dockerfile",
  "Containerfile",
];

/**
 * Writes `dockerfiles` Dockerfiles under `root`, ~5% of that count in compose files whose
 * 2-5 services build some of them (one shared Dockerfile with a SERVICE build arg, or one
 * Dockerfile per service). Returns the counts.
 */
function genTree(root, { dockerfiles, seed }) {
  const rng = makeRng(seed);
  const composeCount = Math.max(1, Math.round(dockerfiles * 0.05));
  let df = 0;
  let compose = 0;
  let bytes = 0;
  const put = (file, text) => {
    write(file, text);
    bytes += Buffer.byteLength(text);
  };
  for (let p = 0; p < composeCount; p++) {
    const dir = path.join(root, `projects/proj-${String(p).padStart(3, "0")}`);
    const nServices = rng.int(2, 5);
    const names = [...SERVICE_NAMES].sort(() => rng.next() - 0.5).slice(0, nServices);
    const shared = rng.chance(0.5);
    const y = [
      `# ${rng.pick(["docker compose build builds every service at once", "local stack"])}`,
      `name: proj-${p}`,
      "",
      "services:",
    ];
    if (shared) {
      const d = genDockerfile(rng, { service: true });
      put(path.join(dir, "Dockerfile"), d.text);
      df++;
      for (const n of names) {
        y.push(`  ${n}:`, "    build:", "      context: .");
        if (d.final === "runtime" && rng.chance(0.5)) y.push("      target: runtime");
        y.push("      args:", `        SERVICE: ${n}`);
        if (rng.chance(0.3)) y.push(`        VERSION: "1.${rng.int(0, 9)}"`);
        y.push(`    image: registry.example.com/proj-${p}/${n}:latest`);
      }
    } else {
      for (const n of names) {
        const d = genDockerfile(rng);
        put(path.join(dir, n, "Dockerfile"), d.text);
        df++;
        y.push(`  ${n}:`, "    build:", `      context: ./${n}`);
        if (rng.chance(0.3)) y.push("      dockerfile: Dockerfile");
        if (rng.chance(0.3)) y.push("      args:", `        - VERSION=1.${rng.int(0, 9)}`);
        y.push(`    image: registry.example.com/proj-${p}/${n}:latest`);
      }
    }
    if (rng.chance(0.5))
      y.push(
        "  db:",
        "    image: postgres:16",
        "    environment:",
        "      POSTGRES_PASSWORD: example",
      );
    put(
      path.join(dir, rng.chance(0.7) ? "compose.yaml" : "docker-compose.yml"),
      y.join("\n") + "\n",
    );
    compose++;
  }
  const teams = Math.max(1, Math.round(dockerfiles / 100));
  for (let i = 0; df < dockerfiles; i++) {
    const dir = path.join(
      root,
      `team-${String(i % teams).padStart(2, "0")}`,
      `svc-${String(i).padStart(4, "0")}`,
    );
    const d = genDockerfile(rng);
    put(path.join(dir, rng.pick(DOCKERFILE_NAMES)), d.text);
    // Non-inputs next to it, as in a real repository.
    if (rng.chance(0.3)) put(path.join(dir, "README.md"), `# svc-${i}\n`);
    df++;
  }
  return { dockerfiles: df, compose, files: df + compose, bytes };
}

/**
 * One very large Dockerfile: `stages` stages, `cacheRuns` cache RUNs. Stages come in
 * chains of CHAIN stages, each FROM the one before; a chain ends in a fan-out of 2-3
 * sibling stages FROM the same parent, and the next chain starts with COPY --from of each
 * sibling, so chains run one after another and only siblings (and their descendants
 * within the fan-out) overlap. The number of parallel cache-RUN pairs therefore grows
 * linearly with size, not quadratically.
 */
const CHAIN = 20;
function genLarge({ stages, cacheRuns, seed }) {
  const rng = makeRng(seed);
  const lines = ["# syntax=docker/dockerfile:1", "ARG RUST_VERSION=1.82", ""];
  const per = new Array(stages).fill(Math.floor(cacheRuns / stages));
  for (let r = cacheRuns - per[0] * stages; r > 0; r--) per[rng.int(0, stages - 1)]++;
  let prevSiblings = [];
  let s = 0;
  let chains = 0;
  let fanouts = 0;
  while (s < stages) {
    chains++;
    const len = Math.min(CHAIN, stages - s);
    const fan = len >= 4 ? rng.int(2, 3) : 0;
    const linear = len - fan;
    let parent = null;
    for (let k = 0; k < len; k++, s++) {
      const name = `c${chains}-s${k}`;
      const sibling = k >= linear;
      const from =
        k === 0 ? "rust:${RUST_VERSION}-bookworm" : sibling ? `c${chains}-s${linear - 1}` : parent;
      lines.push(`FROM ${from} AS ${name}`);
      if (k === 0) {
        lines.push("WORKDIR /app");
        for (const p of prevSiblings) lines.push(`COPY --from=${p} /out/ /in/${p}/`);
      }
      if (rng.chance(0.3)) lines.push(`ENV STEP=${s}`);
      const ctx = { workdir: "/app", service: false };
      for (let r = 0; r < per[s]; r++) {
        const tool = rng.pick(["apt", "cargo", "cargo", "go", "npm", "pip"]);
        lines.push(...toolRun(rng, tool, ctx));
      }
      if (rng.chance(0.5)) lines.push(`RUN mkdir -p /out && echo ${s} > /out/${name}`);
      lines.push("");
      if (!sibling) parent = name;
    }
    if (fan) fanouts++;
    prevSiblings = fan
      ? Array.from({ length: fan }, (_, i) => `c${chains}-s${linear + i}`)
      : [parent];
  }
  lines.push("FROM debian:bookworm-slim AS release");
  for (const p of prevSiblings) lines.push(`COPY --from=${p} /out/ /opt/${p}/`);
  lines.push('ENTRYPOINT ["/opt/app"]', "");
  return {
    text: lines.join("\n"),
    shape: `${stages} stages in ${chains} sequential chain(s) of ${CHAIN} (FROM the previous stage), each ending in a fan-out of 2-3 sibling stages that the next chain joins with COPY --from; ${cacheRuns} cache RUNs spread evenly`,
  };
}

/** A small Dockerfile for cold-start runs: two sibling stages racing on cargo's registry. */
function smallDockerfile() {
  return [
    "# syntax=docker/dockerfile:1",
    "FROM rust:1.82 AS api",
    "WORKDIR /app",
    "RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build --release -p api",
    "FROM rust:1.82 AS cli",
    "WORKDIR /app",
    "RUN --mount=type=cache,target=/usr/local/cargo/registry cargo build --release -p cli",
    "FROM debian:bookworm-slim",
    "COPY --from=api /app/target/release/api /usr/local/bin/",
    "COPY --from=cli /app/target/release/cli /usr/local/bin/",
    "",
  ].join("\n");
}

module.exports = { makeRng, genDockerfile, genTree, genLarge, smallDockerfile };
