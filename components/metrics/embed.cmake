#  embed.cmake - write a file's bytes as a C array, so the binary serves
#  the dashboard with no file of its own at run time.
#  cmake -DINPUT=page.html -DOUTPUT=page.c -DNAME=wp_dashboard_html -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}"
"/*  Generated from ${INPUT} by embed.cmake: do not edit.  */\n"
"#include <stddef.h>\n"
"const unsigned char ${NAME} [] = {\n${bytes}0x00\n};\n"
"const size_t ${NAME}_size = ${size};\n")
