/** Docker image reference grammar (distribution/reference), enough to validate and normalise. */

const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const REFERENCE = new RegExp(
  `^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`,
);

/** Returns an error message if `ref` is not a valid image reference, else undefined. */
export function imageRefError(ref: string): string | undefined {
  if (ref === "") return "base name should not be blank";
  if (ref.length > 255) return "repository name must not be more than 255 characters";
  if (isValid(ref)) return undefined;
  if (isValid(ref.toLowerCase()) || isValid(lowerPath(ref)))
    return "invalid reference format: repository name must be lowercase";
  return "invalid reference format";
}

function isValid(ref: string): boolean {
  const m = REFERENCE.exec(ref);
  if (!m) return false;
  // A first component without '.', ':' or 'localhost' that is lowercase is a path, not a domain.
  return true;
}

function lowerPath(ref: string): string {
  const at = ref.indexOf("@");
  const main = at < 0 ? ref : ref.slice(0, at);
  const colon = main.lastIndexOf(":");
  const slash = main.lastIndexOf("/");
  const name = colon > slash ? main.slice(0, colon) : main;
  return name.toLowerCase() + ref.slice(name.length);
}

/** docker.io/library/name:latest style normalisation, for identity only. */
export function normalizeImageRef(ref: string): string {
  let name = ref;
  let suffix = "";
  const at = name.indexOf("@");
  if (at >= 0) {
    suffix = name.slice(at);
    name = name.slice(0, at);
  }
  const colon = name.lastIndexOf(":");
  if (colon > name.lastIndexOf("/")) {
    suffix = name.slice(colon) + suffix;
    name = name.slice(0, colon);
  } else if (!suffix) suffix = ":latest";
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);
  if (slash < 0) name = `docker.io/library/${name}`;
  else if (!/[.:]/.test(first) && first !== "localhost" && first.toLowerCase() === first)
    name = `docker.io/${name}`;
  return name + suffix;
}
