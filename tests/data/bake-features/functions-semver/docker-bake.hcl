# user functions calling each other: a version split by regexall's named groups (semver tags
# or a cleaned tag), regex_replace, substr, trimprefix, and tags from distinct(flatten(for))
variable "IMAGE" {
  default = "localhost:5000/features/semver"
}
variable "VERSION" {
  default = "dev"
}
variable "SHA" {}
variable "LANG_VERSION" {
  default = "3.1,3.2"
}
variable "MAIN_LANG" {
  default = "3.2"
}
function "tag" {
  params = [version, flavour, lang]
  result = [
    version == "" ? "" : "${IMAGE}:${trimprefix("${version}-lang${lang}-${flavour}", "latest-")}",
    lang == MAIN_LANG && flavour == "slim" && version != "" ? "${IMAGE}:${trimprefix(version, "latest-")}" : "",
  ]
}
function "clean_tag" {
  params = [t]
  result = substr(regex_replace(regex_replace(t, "[^\\w.-]", "-"), "^([^\\w])", "r$0"), 0, 127)
}
function "semver" {
  params = [rev]
  result = _pick(_first(regexall("^v?(?P<major>0|[1-9]\\d*)\\.(?P<minor>0|[1-9]\\d*)\\.(?P<patch>0|[1-9]\\d*)(?:-(?P<pre>[0-9A-Za-z.-]+))?$", rev)))
}
function "_first" {
  params = [matches]
  result = length(matches) == 0 ? {} : matches[0]
}
function "_pick" {
  params = [v]
  result = v == {} ? [clean_tag(VERSION)] : v.pre == null ? [v.major, "${v.major}.${v.minor}", "${v.major}.${v.minor}.${v.patch}"] : ["${v.major}.${v.minor}.${v.patch}-${v.pre}"]
}
target "default" {
  name   = "app-${replace(lang, ".", "-")}-${flavour}"
  matrix = {
    flavour = ["slim", "alpine"]
    lang    = split(",", LANG_VERSION)
  }
  platforms = flavour == "alpine" ? ["linux/amd64", "linux/arm64"] : ["linux/amd64"]
  tags = compact(distinct(flatten([
    tag("latest", flavour, lang),
    tag(SHA == "" || VERSION != "dev" ? "" : "sha-${substr(SHA, 0, 7)}", flavour, lang),
    VERSION == "dev" ? [] : [for v in semver(VERSION) : tag(v, flavour, lang)],
  ])))
}
