# variables as bake resolves them (hclparser.go resolveValue): defaults, the environment over
# them read by type (typed, untyped after the default's type, CSV lists, NAME_JSON), top-level
# attributes, functions, validations and bake's built-in variables
variable "REGISTRY" {
  default = "localhost:5000"
}
variable "PUSH_LATEST" {
  default = false
}
variable "MAJOR" {
  default = 1
}
variable "PLATFORMS" {
  type    = list(string)
  default = ["linux/amd64"]
}
variable "EXTRA_TAGS" {
  type    = list(string)
  default = []
}
variable "LABELS" {
  type    = map(string)
  default = {}
}
variable "RELEASE" {
  type    = object({ channel = string, rc = optional(number) })
  default = { channel = "stable" }
}
variable "EMPTY" {}
variable "NOTHING" {
  default = null
}
variable "CHANNEL" {
  default = RELEASE.channel
  validation {
    condition     = contains(["stable", "beta", "edge"], CHANNEL)
    error_message = "CHANNEL must be stable, beta or edge."
  }
}
repo = "${REGISTRY}/features/vars"
function "tag" {
  params          = [name]
  variadic_params = suffixes
  result          = [for s in concat([name], suffixes) : "${repo}:${s}"]
}
group "default" {
  targets = ["app"]
}
target "app" {
  platforms = PLATFORMS
  tags = flatten([
    tag("${MAJOR}.${MAJOR + 1}", "m${MAJOR * 10}"),
    PUSH_LATEST ? ["${repo}:latest"] : [],
    [for t in EXTRA_TAGS : "${repo}:${t}"],
    EMPTY == "" ? [] : ["${repo}:empty-${EMPTY}"],
    NOTHING == null ? ["${repo}:nothing"] : [],
    "${repo}:${CHANNEL}${RELEASE.rc != null ? "-rc${RELEASE.rc}" : ""}",
  ])
  labels = LABELS
  args = {
    LOCAL_PLATFORM = BAKE_LOCAL_PLATFORM
    CMD_CONTEXT    = BAKE_CMD_CONTEXT
  }
}
