package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/fnmgr/fnmgr/plugin/config"
)

func knownEnv() map[string]bool {
	known := map[string]bool{}
	for _, s := range config.Settings() {
		known[s.Env] = true
	}
	return known
}

// TestDockerfileBuildsLikeMake: the image's binary is built by the
// Makefile's build target, whose flags are -trimpath and the version
// ldflag; `make -n` shows the exact command.
func TestDockerfileBuildsLikeMake(t *testing.T) {
	df, err := os.ReadFile("docker/Dockerfile")
	require.NoError(t, err)
	builds := regexp.MustCompile(`(?m)^RUN CGO_ENABLED=[01] make build BIN=/out CMDS=\./plugin/cmd/fnmgr VERSION=\$\{VERSION\}$`).FindAllString(string(df), -1)
	require.Len(t, builds, 2, "the static and the cgo image build with make build")
	// An ARG does not pass into a stage built FROM another one: each build
	// stage declares VERSION, or the binary would say "".
	require.Regexp(t, `(?m)^FROM build-base AS build\nARG VERSION\nRUN `, string(df))
	require.Regexp(t, `(?m)^FROM build-base AS build-cgo\nARG VERSION\nRUN `, string(df))
	require.Regexp(t, `(?m)^ARG VERSION=dev$`, string(df), "a default before the first FROM")
	for _, want := range []string{"USER 65532:65532", "EXPOSE 3234 3235", `ENTRYPOINT ["/usr/local/bin/fnmgr"]`, "FROM gcr.io/distroless/static-debian12:nonroot AS static"} {
		require.Contains(t, string(df), want)
	}
	// The last stage is the default target: the static image.
	stages := regexp.MustCompile(`(?m)^FROM .* AS (\S+)$`).FindAllStringSubmatch(string(df), -1)
	require.Equal(t, "static", stages[len(stages)-1][1])

	mk, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^BUILD_FLAGS := -trimpath -ldflags "-X main\.version=\$\(VERSION\)"$`, string(mk))
	require.Regexp(t, `(?m)^\t\$\(GO\) build \$\(BUILD_FLAGS\) -o \$\(BIN\)/ \$\(CMDS\)$`, string(mk))
	if _, err := exec.LookPath("make"); err == nil {
		out, err := exec.Command("make", "-s", "-n", "-C", "..", "build", "BIN=/out", "CMDS=./plugin/cmd/fnmgr", "VERSION=v9.9.9").CombinedOutput()
		require.NoError(t, err, string(out))
		require.Contains(t, string(out), `go build -trimpath -ldflags "-X main.version=v9.9.9" -o /out/ ./plugin/cmd/fnmgr`)
	}
}

// TestComposeFile: the overlay is valid YAML, names OpenWhisk's
// docker-compose services, and sets only settings fnmgr knows.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("compose/docker-compose.yml")
	require.NoError(t, err)
	var f struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			DependsOn   []string          `yaml:"depends_on"`
			Environment map[string]string `yaml:"environment"`
			Ports       []string          `yaml:"ports"`
		} `yaml:"services"`
	}
	require.NoError(t, yaml.Unmarshal(b, &f))
	svc, ok := f.Services["fnmgr"]
	require.True(t, ok)
	require.ElementsMatch(t, []string{"db", "kafka", "controller"}, svc.DependsOn)
	known := knownEnv()
	for k := range svc.Environment {
		require.True(t, known[k], "%s is not a setting", k)
	}
	require.Contains(t, svc.Environment["FNMGR_CONTROLLERS"], "http://controller:8888")
	require.Contains(t, svc.Environment["FNMGR_KAFKA_BROKERS"], "kafka:9092")
	require.Contains(t, svc.Environment["FNMGR_COUCHDB_URL"], "@db:5984")
	require.Contains(t, svc.Environment["FNMGR_OW_DB_PREFIX"], "local_")
}

// TestSystemdUnit: the unit reads an EnvironmentFile, reloads with SIGHUP,
// runs unprivileged and hardened; the example environment file sets only
// known settings.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("systemd/fnmgr.service")
	require.NoError(t, err)
	keys := map[string][]string{}
	section := ""
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		default:
			k, v, ok := strings.Cut(line, "=")
			require.True(t, ok, "line %q", line)
			keys[section+k] = append(keys[section+k], v)
		}
	}
	for k, v := range map[string]string{
		"[Service]EnvironmentFile": "/etc/fnmgr/fnmgr.env", "[Service]ExecStart": "/usr/local/bin/fnmgr serve",
		"[Service]ExecReload": "/bin/kill -HUP $MAINPID", "[Service]User": "fnmgr", "[Service]NoNewPrivileges": "yes",
		"[Service]ProtectSystem": "strict", "[Service]CapabilityBoundingSet": "", "[Service]PrivateTmp": "yes",
		"[Service]RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "[Install]WantedBy": "multi-user.target",
	} {
		require.Equal(t, []string{v}, keys[k], k)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		out, err := exec.Command(sa, "verify", "--man=no", "systemd/fnmgr.service").CombinedOutput()
		// verify also checks that /usr/local/bin/fnmgr exists; only syntax matters here.
		if err != nil && !strings.Contains(string(out), "fnmgr") {
			t.Errorf("systemd-analyze verify: %s", out)
		}
	}

	f, err := os.Open("systemd/fnmgr.env")
	require.NoError(t, err)
	defer f.Close()
	known := knownEnv()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "#")
		if k, _, ok := strings.Cut(line, "="); ok && strings.HasPrefix(k, "FNMGR_") {
			require.True(t, known[k], "%s is not a setting", k)
		}
	}
}

// TestStaticBuildPossible: every package the fnmgr binary needs builds
// without cgo (go-dcgm's users have a no-cgo fallback), so the default
// image's CGO_ENABLED=0 build holds.
func TestStaticBuildPossible(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-e", "-f", "{{if .Error}}{{.ImportPath}}: {{.Error}}{{end}}", "./plugin/cmd/fnmgr")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Empty(t, strings.TrimSpace(string(out)), "packages that need cgo")
}
