# matrices of lists and of objects; each combination a target named by `name`, the block's
# label a group of them; a matrix target is inherited and referenced by its name
variable "VERSIONS" {
  default = "1.22,1.23"
}
target "go" {
  name      = "go-${replace(v, ".", "_")}-${os}"
  matrix    = { v = split(",", VERSIONS), os = ["alpine", "bookworm"] }
  tags      = [join(":", ["localhost:5000/features/go", "${v}-${os}"])]
  platforms = os == "alpine" ? ["linux/amd64", "linux/arm64"] : ["linux/amd64"]
}
target "tool" {
  name   = "tool-${item.name}"
  matrix = {
    item = [
      { name = "lint", target = "lint", push = false },
      { name = "app", target = "app", push = true },
    ]
  }
  target = item.target
  tags   = item.push ? ["localhost:5000/features/tool-${item.name}:1"] : []
  output = item.push ? ["type=image"] : ["type=cacheonly"]
}
target "derived" {
  inherits = ["go-1_23-alpine"]
  tags     = concat(target.go-1_22-bookworm.tags, ["localhost:5000/features/derived:1"])
}
group "default" {
  targets = ["go", "tool"]
}
