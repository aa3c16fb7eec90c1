// greeter.cpp - a plugin in C++: std::string, exceptions and iostream inside the
// sandbox. Exceptions never cross into svrun: sv_plugin_main catches everything.
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <sovereign/plugin.h>

namespace {

// Owns one result, so an exception thrown while reading it frees it too.
class Result {
public:
	Result(sv_ctx *ctx, const std::string &sql) : r_(sv_query(ctx, sql.c_str(), 0, nullptr))
	{
		if (r_ == nullptr)
			throw std::runtime_error(sv_errmsg(ctx));
	}
	~Result() { sv_result_free(r_); }
	Result(const Result &) = delete;
	Result &operator=(const Result &) = delete;

	int rows() const { return sv_result_rows(r_); }
	std::string text(int row, int col) const
	{
		const char *t = sv_result_text(r_, row, col);
		return t ? t : "";
	}

private:
	sv_result *r_;
};

std::vector<std::string> display_names(sv_ctx *ctx)
{
	Result r(ctx, "SELECT display_name FROM v_plugin_users ORDER BY id");
	std::vector<std::string> names;
	for (int i = 0; i < r.rows(); i++)
		names.push_back(r.text(i, 0));
	return names;
}

} // namespace

extern "C" int sv_plugin_main(sv_ctx *ctx)
{
	try {
		for (const std::string &name : display_names(ctx))
			std::cout << "hello, " << name << '\n';
		// A refusal arrives as an exception here, like any other error.
		Result secret(ctx, "SELECT password_hash FROM users");
		std::cout << "unexpected: read " << secret.rows() << " password hashes\n";
		return 1;
	} catch (const std::exception &e) {
		std::cout << "refused as expected: " << e.what() << std::endl;
		return 0;
	}
}
