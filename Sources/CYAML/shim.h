/* libyaml (Debian libyaml-dev): the proxy reads YAML configuration files with its event parser. */
#include <yaml.h>
