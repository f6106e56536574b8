# what bake checks when it turns a target into build options, before it prints: a plan for
# a target bake refuses there would be a plan for a build that never runs
target "secret-ok" {
  secret = ["id=token,src=secret.txt"]
}
target "secret-missing" {
  secret = ["id=token,src=missing.txt"]
}
target "platform-bad" {
  platforms = ["linux/amd64", "invalid platform"]
}
target "platform-unknown" {
  platforms = ["notanos"]
}
target "platform-ok" {
  platforms = ["local", "arm64", "windows(10.0.17763)/amd64,linux/amd64/v2"]
}
target "ulimit-bad" {
  ulimits = ["nofile=2048:1024"]
}
target "ulimit-ok" {
  ulimits = ["nofile=1024:2048"]
}
target "shm-bad" {
  shm-size = "lots"
}
target "shm-ok" {
  shm-size = "1.5GiB"
}
target "ssh-agent" {
  ssh = ["default"]
}
