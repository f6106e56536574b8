# a typed variable is a cty list or map, never equal to a tuple or object literal (`[]`, `{}`)
# even when empty; an untyped default stays a tuple
variable "TAGS" {
  type    = list(string)
  default = []
}
variable "PLATS" {
  type    = list(string)
  default = ["linux/amd64"]
}
variable "EXTRA" {
  default = []
}
variable "M" {
  type    = map(string)
  default = {}
}
target "default" {
  tags = concat(
    TAGS == [] ? ["localhost:5000/f/eq:tags-equal-tuple"] : ["localhost:5000/f/eq:tags-list"],
    length(TAGS) == 0 ? ["localhost:5000/f/eq:tags-empty"] : [],
    EXTRA == [] ? ["localhost:5000/f/eq:extra-empty"] : [],
    M == {} ? ["localhost:5000/f/eq:m-equal-object"] : ["localhost:5000/f/eq:m-map"],
    length(M) > 0 ? [for k, v in M : "localhost:5000/f/eq:${k}-${v}"] : [],
    PLATS == ["linux/amd64"] ? ["localhost:5000/f/eq:plats-tuple"] : ["localhost:5000/f/eq:plats-list"],
    [for t in TAGS : "localhost:5000/f/eq:${t}"],
  )
  platforms = PLATS
}
