package main

import (
	"runtime"
	"runtime/debug"
)

// version is the module version `go install …@vX` records, or for a build
// from a checkout "devel" with the commit when the build recorded one, and the
// Go version. The build information is absent only from binaries built without
// module support: then it says so rather than inventing a number.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information), " + runtime.Version()
	}
	return describeBuild(bi)
}

func describeBuild(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if rev != "" {
			v += " " + rev[:min(12, len(rev))] + dirty
		}
	}
	return v + ", " + bi.GoVersion
}
