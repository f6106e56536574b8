# a target that pushes without a name: bake's build fails ("tag is needed when pushing to
# registry"); the plan says so
group "default" {
  targets = ["named", "nameless", "output-name"]
}
target "named" {
  tags = ["localhost:5000/features/named:1"]
}
target "nameless" {
  platforms = ["linux/amd64", "linux/arm64"]
}
target "output-name" {
  output = ["type=image,name=localhost:5000/features/out:1"]
}
