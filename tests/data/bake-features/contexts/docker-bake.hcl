# targets pulled in through `target:` contexts are built (bake.go loadLinks) with their outputs
# replaced by cacheonly: they push nothing, even with --push
group "default" {
  targets = ["app"]
}
target "app" {
  tags      = ["localhost:5000/features/app:1"]
  platforms = ["linux/amd64", "linux/arm64"]
  contexts = {
    base  = "target:base"
    tools = "target:tools"
    img   = "docker-image://alpine:3.20"
  }
}
target "base" {
  tags      = ["localhost:5000/features/base:1"]
  platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"]
  contexts  = { deps = "target:deps" }
}
target "tools" {
  tags   = ["localhost:5000/features/tools:1"]
  output = ["type=image,push=true"]
}
target "deps" {
  tags = ["localhost:5000/features/deps:1"]
}
target "standalone" {
  tags = ["localhost:5000/features/standalone:1"]
}
