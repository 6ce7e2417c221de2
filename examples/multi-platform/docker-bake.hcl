# docker buildx bake            -> app and app-alpine, each for amd64 and arm64
# docker buildx bake app        -> just the Debian image
variable "TAG" {
  default = "latest"
}

group "default" {
  targets = ["app", "app-alpine"]
}

target "app" {
  context    = "."
  dockerfile = "Dockerfile"
  target     = "app"
  platforms  = ["linux/amd64", "linux/arm64"]
  tags       = ["ghcr.io/acme/app:${TAG}"]
}

target "app-alpine" {
  inherits = ["app"]
  target   = "app-alpine"
  tags     = ["ghcr.io/acme/app:${TAG}-alpine"]
}
