# bake merges its HCL targets onto the compose file's targets of the same name
target "app" {
  tags      = ["localhost:5000/features/app-hcl:2"]
  platforms = ["linux/amd64", "linux/arm64"]
}
target "extra" {
  inherits = ["other"]
  tags     = ["localhost:5000/features/extra:1"]
}
