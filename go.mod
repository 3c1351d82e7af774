module corral

go 1.26.8
