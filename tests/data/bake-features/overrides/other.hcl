target "app" {
  tags = ["localhost:5000/features/app:other"]
  output = ["type=local,dest=out"]
}
