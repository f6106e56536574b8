# a group of a matrix over a list of objects (name and target from each object) and plain
# targets, all with cache-only outputs: --push pushes nothing
group "checks" {
  targets = ["lint", "vendor-check"]
}
target "lint" {
  name       = "lint-${flavour.name}"
  dockerfile = "lint.Dockerfile"
  target     = flavour.target
  output     = ["type=cacheonly"]
  matrix = {
    flavour = [
      { name = "go", tags = "", target = "golangci" },
      { name = "extra", tags = "a b", target = "golangci" },
      { name = "yaml", tags = "", target = "yamllint" },
    ]
  }
  args = { BUILDTAGS = flavour.tags }
}
target "vendor-check" {
  target = "validate"
  output = ["type=cacheonly"]
}
target "image" {
  tags = ["localhost:5000/features/object-matrix:1"]
}
