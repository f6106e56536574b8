target "app" {
  platforms = ["linux/amd64"
}
