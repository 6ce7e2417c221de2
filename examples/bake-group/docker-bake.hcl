# docker buildx bake   -> builds api, worker and migrate in parallel on one builder
variable "GO_VERSION" {
  default = "1.23"
}

variable "REGISTRY" {
  default = "ghcr.io/acme"
}

group "default" {
  targets = ["api", "worker", "migrate"]
}

target "_common" {
  context = "."
  args = {
    GO_VERSION = GO_VERSION
  }
  labels = {
    "org.opencontainers.image.source" = "https://github.com/acme/platform"
  }
}

target "api" {
  inherits   = ["_common"]
  dockerfile = "Dockerfile"
  args = {
    CMD = "api"
  }
  tags = ["${REGISTRY}/api:latest"]
}

target "worker" {
  inherits   = ["_common"]
  dockerfile = "Dockerfile"
  args = {
    CMD = "worker"
  }
  tags = ["${REGISTRY}/worker:latest"]
}

target "migrate" {
  inherits   = ["_common"]
  dockerfile = "migrate.Dockerfile"
  tags       = ["${REGISTRY}/migrate:latest"]
}
