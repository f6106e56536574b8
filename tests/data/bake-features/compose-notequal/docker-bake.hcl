# HCL next to a compose file (both default names); tags only when REGISTRY is set, by notequal()
# and a conditional; a matrix whose names carry its value; formatlist over compact()
variable "REGISTRY" {
  default = ""
}
variable "VERSION" {
  default = "latest"
}
variable "SEPARATE" {
  default = false
}
target "svc" {
  name      = "svc-${part}"
  matrix    = { part = ["api", "worker"] }
  target    = part
  platforms = ["linux/amd64"]
  tags = notequal("", REGISTRY) ? concat(
    formatlist(SEPARATE ? "${REGISTRY}/${part}:%s" : "${REGISTRY}:${part}-%s", compact(["latest", VERSION])),
    part == "api" ? formatlist("${REGISTRY}:alias-%s", compact([VERSION])) : []
  ) : []
}
target "console" {
  context   = "./console"
  platforms = ["linux/amd64", "linux/arm64"]
  tags      = notequal("", REGISTRY) ? formatlist("${REGISTRY}/console:%s", compact(["latest", VERSION])) : []
}
group "default" {
  targets = ["svc", "console"]
}
group "release" {
  targets = ["console", "svc-api"]
}
