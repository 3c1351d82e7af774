package actorvet

import (
	"go/token"
	"strings"
)

// allowDirective starts an escape-hatch comment. Like //go: directives it has no space after
// the slashes, so ordinary prose that mentions actorvet:allow is not mistaken for one.
const allowDirective = "//actorvet:allow"

// scanAllows finds the escape-hatch comments of f. It returns the lines on which findings are
// suppressed, and a finding for each directive that lacks a reason; those suppress nothing,
// because an unexplained exception is exactly what review needs to see.
func scanAllows(fset *token.FileSet, f sourceFile) (allowed map[int]bool, malformed []Finding) {
	allowed = map[int]bool{}
	for _, group := range f.ast.Comments {
		for _, comment := range group.List {
			reason, ok := allowReason(comment.Text)
			if !ok {
				continue
			}
			pos := fset.Position(comment.Pos())
			if reason == "" {
				malformed = append(malformed, Finding{
					Pos:     pos,
					Rule:    ruleAllowReason,
					Message: allowDirective + " needs a reason, as in " + allowDirective + " <why this is safe>; without one it suppresses nothing",
				})
				continue
			}
			allowed[pos.Line] = true
			// A comment that trails code covers only that code; one on a line of its own
			// covers the line below.
			if standsAlone(fset, f.src, comment.Pos()) {
				allowed[pos.Line+1] = true
			}
		}
	}
	return allowed, malformed
}

// allowReason reports whether text is an escape-hatch comment and, if so, its trimmed reason.
// "//actorvet:allowed" and the like are different words, not the directive.
func allowReason(text string) (reason string, ok bool) {
	rest, found := strings.CutPrefix(text, allowDirective)
	if !found || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// standsAlone reports whether only white space precedes pos on its line.
func standsAlone(fset *token.FileSet, src []byte, pos token.Pos) bool {
	file := fset.File(pos)
	lineStart := file.Offset(file.LineStart(file.Line(pos)))
	return strings.TrimSpace(string(src[lineStart:file.Offset(pos)])) == ""
}

// suppress drops the findings on allowed lines.
func suppress(findings []Finding, allowed map[int]bool) []Finding {
	kept := findings[:0]
	for _, f := range findings {
		if !allowed[f.Pos.Line] {
			kept = append(kept, f)
		}
	}
	return kept
}
