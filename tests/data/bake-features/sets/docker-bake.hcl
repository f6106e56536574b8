# --set as bake applies it (bake.go newOverrides/AddOverrides): patterns, +=, clearing, keys
group "default" {
  targets = ["app", "api", "lib"]
}
target "_base" {
  tags = ["localhost:5000/features/base:1"]
}
target "app" {
  inherits  = ["_base"]
  platforms = ["linux/amd64"]
}
target "api" {
  tags      = ["localhost:5000/features/api:1"]
  platforms = ["linux/amd64", "linux/arm64"]
}
target "lib" {
  tags   = ["localhost:5000/features/lib:1"]
  output = ["type=local,dest=out"]
}
