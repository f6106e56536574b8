# binaries written to a local folder (a bare path is a local output), a release of them for
# several platforms, artifacts with a local output and cache-only checks: --push pushes none of
# them, only the image target
variable "DESTDIR" {
  default = ""
}
function "outdir" {
  params = [sub]
  result = DESTDIR != "" ? "${DESTDIR}/${sub}" : "./out/${sub}"
}
target "_common" {
  args = { GO_VERSION = "1.22" }
}
target "binaries" {
  inherits = ["_common"]
  target   = "binaries"
  output   = [outdir("build")]
}
target "binaries-cross" {
  inherits  = ["binaries"]
  platforms = ["linux/amd64", "linux/arm64", "linux/riscv64"]
}
target "release" {
  inherits = ["binaries-cross"]
  target   = "release"
  output   = [outdir("release")]
}
target "artifact" {
  inherits = ["_common"]
  target   = "artifact"
  output   = ["type=local,dest=./dist"]
}
target "artifact-all" {
  inherits  = ["artifact"]
  platforms = ["linux/amd64", "linux/arm/v7", "linux/arm64"]
}
target "validate" {
  target = "validate"
  output = ["type=cacheonly"]
}
target "image" {
  inherits  = ["_common"]
  tags      = ["localhost:5000/features/local-outputs:1"]
  platforms = ["linux/amd64", "linux/arm64"]
}
group "default" {
  targets = ["binaries", "validate"]
}
