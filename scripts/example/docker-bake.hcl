# `bakeguard --push` here behaves like `docker buildx bake --push`, guarded and verified.
variable "REGISTRY" {
  default = "localhost:5000"
}
variable "TAG" {
  default = "latest"
}
group "default" {
  targets = ["app"]
}
target "app" {
  context   = "."
  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
  tags      = ["${REGISTRY}/bakeguard-example/app:${TAG}"]
}
