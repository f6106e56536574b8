variable "REGISTRY" {
  default = "localhost:5000"
}
variable "REPO" {
  default = "bakeguard/corpus"
}
variable "TAG" {
  default = "v1"
}
function "img" {
  params = [name]
  result = "${REGISTRY}/${REPO}/${name}:${TAG}"
}
group "default" {
  targets = ["app", "tools"]
}
group "all" {
  targets = ["app", "tools", "matrix"]
}
target "_common" {
  dockerfile = "Dockerfile"
  args = {
    GREETING = "hi"
  }
}
target "app" {
  inherits  = ["_common"]
  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
  tags      = [img("app")]
}
target "tools" {
  inherits = ["_common"]
  tags     = [img("tools"), "${REGISTRY}/${REPO}/tools:latest"]
}
target "matrix" {
  name     = "m-${v}"
  matrix   = { v = ["a", "b"] }
  inherits = ["_common"]
  tags     = [img("m-${v}")]
  args     = { V = v }
}
target "broken" {
  dockerfile = "Broken.Dockerfile"
}
