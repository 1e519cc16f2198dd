package apicompat

func Markdown(results []Result, allow map[string][2]string) string { return "" }
