# expressions as HCL evaluates them: conditionals, && / ||, comparisons, attribute access and
# indexes, for expressions, splats, string templates and directives, heredocs
variable "ENV" {
  default = "prod"
}
variable "BUILD" {
  default = "42"
}
locals_like = {
  regions  = ["eu", "us"]
  owners   = [{ name = "a", team = "x" }, { name = "b", team = "y" }]
  registry = { prod = "localhost:5000/features", dev = "localhost:5000/dev" }
}
group "default" {
  targets = flatten([["cond"], ["loop", ENV == "prod" ? "splat" : "cond"]])
}
target "cond" {
  tags = [
    ENV != "" && BUILD >= 10 ? "${locals_like.registry[ENV]}/cond:${BUILD}" : "x/y:z",
    ENV == "dev" || BUILD < 10 ? "dev/never:1" : "",
    "${locals_like.registry["prod"]}/cond:%{ if ENV == "prod" }stable%{ else }edge%{ endif }",
  ]
  platforms = !(ENV == "prod") ? [] : ["linux/amd64", "linux/arm64"]
  dockerfile-inline = <<-EOT
    FROM alpine
    RUN echo ${ENV} %{ for r in locals_like.regions }${r} %{ endfor }
  EOT
}
target "loop" {
  tags = [for r in locals_like.regions : "${locals_like.registry.prod}/loop-${r}:${BUILD}" if r != "us"]
  args = { for o in locals_like.owners : upper(o.name) => o.team }
}
target "splat" {
  tags = [for n in locals_like.owners[*].name : "${locals_like.registry.prod}/splat-${n}:1"]
  labels = {
    teams = join(",", locals_like.owners.*.team)
    first = locals_like.owners[0].name
  }
}
