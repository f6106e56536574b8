# every kind of output, as bake applies --push to it (bake.go setPushOverride): image outputs
# get push=true, a target whose outputs are all `docker` (or none) gets an image output that
# pushes; local, tar, oci and cacheonly are kept and push nothing
variable "REPO" {
  default = "localhost:5000/features/outputs"
}
group "default" {
  targets = ["none", "local", "bare-path", "tar", "stdout", "oci", "docker", "cacheonly", "image", "image-nopush", "registry", "docker-and-local", "image-and-docker"]
}
target "none" {
  tags = ["${REPO}/none:1"]
}
target "local" {
  tags   = ["${REPO}/local:1"]
  output = ["type=local,dest=out"]
}
target "bare-path" {
  tags   = ["${REPO}/bare:1"]
  output = ["./bin"]
}
target "tar" {
  tags   = ["${REPO}/tar:1"]
  output = ["type=tar,dest=out.tar"]
}
target "stdout" {
  tags   = ["${REPO}/stdout:1"]
  output = ["-"]
}
target "oci" {
  tags   = ["${REPO}/oci:1"]
  output = ["type=oci,dest=out.tar"]
}
target "docker" {
  tags   = ["${REPO}/docker:1"]
  output = ["type=docker"]
}
target "cacheonly" {
  tags   = ["${REPO}/cacheonly:1"]
  output = ["type=cacheonly"]
}
target "image" {
  tags   = ["${REPO}/image:1"]
  output = [{ type = "image" }]
}
target "image-nopush" {
  tags   = ["${REPO}/image-nopush:1"]
  output = ["type=image,push=false"]
}
target "registry" {
  tags   = ["${REPO}/registry:1"]
  output = ["type=registry"]
}
target "docker-and-local" {
  tags   = ["${REPO}/dl:1"]
  output = ["type=docker", "type=local,dest=out"]
}
target "image-and-docker" {
  tags   = ["${REPO}/id:1"]
  output = ["type=image,name=${REPO}/other:1", "type=docker"]
}
