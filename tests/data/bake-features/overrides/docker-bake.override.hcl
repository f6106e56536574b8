variable "TAG" {
  default = "override-${SUFFIX}"
}
SUFFIX = "hcl"
target "app" {
  platforms = ["linux/amd64", "linux/arm64"]
}
