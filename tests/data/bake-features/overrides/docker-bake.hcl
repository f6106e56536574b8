# bake's default files, merged in its order: docker-bake.json, docker-bake.hcl,
# docker-bake.override.json, docker-bake.override.hcl; a later variable or group replaces an
# earlier one, targets of one name merge (tags and platforms replace, args merge)
variable "TAG" {
  default = "hcl"
}
group "default" {
  targets = ["app"]
}
target "app" {
  tags      = ["localhost:5000/features/app:${TAG}"]
  platforms = ["linux/amd64"]
  args      = { A = "hcl", B = "hcl" }
}
target "lib" {
  tags = ["localhost:5000/features/lib:${TAG}"]
}
