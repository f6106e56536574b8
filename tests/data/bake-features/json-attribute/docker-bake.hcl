# a matrix over a list of objects that a JSON file's top-level attribute holds
group "default" {
  targets = ["rel"]
}
target "rel" {
  name   = "rel-${item.version}"
  matrix = { item = releases }
  args   = { VERSION = item.version, NOTE = item.note }
  tags   = ["localhost:5000/features/rel:${item.tag}"]
}
