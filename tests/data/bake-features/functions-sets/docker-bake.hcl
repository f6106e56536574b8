# a group whose targets come from a function (sethaselement, setsubtract), a variable whose
# default is a function of another (can(regex())), platforms split from a variable, images
# pushed and cache-only bases
variable "PRODUCT_VERSION" {
  default = "25.1"
}
variable "REGISTRY" {
  default = "localhost:5000"
}
variable "TAG" {
  default = "latest"
}
variable "TARGETARCH" {
  default = "amd64,arm64"
}
function "runtime_for" {
  params = [v]
  result = (
    can(regex("^7", v)) ? "rt9" :
    can(regex("^(23|25)", v)) ? "rt10" :
    "rt11"
  )
}
variable "RUNTIME" {
  default = runtime_for(PRODUCT_VERSION)
}
function "unless_version" {
  params = [versions, targets, excluded]
  result = sethaselement(versions, "${PRODUCT_VERSION}") ? setsubtract(targets, excluded) : targets
}
group "default" {
  targets = ["suite"]
}
group "suite" {
  targets = unless_version(["7.4"], ["repo", "share", "audit"], ["audit"])
}
target "base" {
  tags      = ["${REGISTRY}/features/base:${RUNTIME}"]
  output    = ["type=cacheonly"]
  platforms = split(",", "${TARGETARCH}")
}
target "repo" {
  contexts  = { base = "target:base" }
  tags      = ["${REGISTRY}/features/repo:${TAG}"]
  platforms = split(",", "${TARGETARCH}")
}
target "share" {
  tags      = ["${REGISTRY}/features/share:${TAG}-${RUNTIME}"]
  platforms = split(",", "${TARGETARCH}")
}
target "audit" {
  tags = ["${REGISTRY}/features/audit:${TAG}"]
}
