# targets pulled in by `target:` contexts, through inheritance and nested two deep, with and
# without --push; the pulled-in targets are built (and pushed) as bake builds them
target "meta" {
  tags = ["localhost:5000/features/context-targets:local"]
}
target "go" {
  inherits   = ["meta"]
  dockerfile = "go.Dockerfile"
}
target "go-cross" {
  inherits  = ["go"]
  platforms = ["linux/amd64", "linux/arm64"]
}
target "go-cross-with-contexts" {
  inherits = ["go-cross"]
  contexts = {
    gen = "target:generated"
  }
}
target "generated" {
  contexts = {
    part1 = "target:part1"
    part2 = "target:part2"
  }
  dockerfile-inline = <<-EOT
  FROM scratch
  COPY --from=part1 / /1
  COPY --from=part2 / /2
  EOT
}
target "part1" {
  dockerfile-inline = "FROM scratch\n"
  output            = ["type=cacheonly"]
}
target "part2" {
  dockerfile-inline = "FROM scratch\n"
  tags              = ["localhost:5000/features/part2:1"]
}
target "helper" {
  context = "helper"
}
target "lipo" {
  context  = "src/ld"
  target   = "lipo-static"
  contexts = {
    "example/helper" = "target:helper"
  }
  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
}
group "default" {
  targets = ["go-cross"]
}
